/**
 * The API's answers, as the back end defines them (shared/contracts/: one definition for the API, its
 * tests and this dashboard). Zod objects ignore fields a newer API adds and check every field read.
 */
export {
  type AnalysesAnswer,
  type AnalysisInfo,
  analysesAnswer,
  type BatchesAnswer,
  type BucketsAnswer,
  batchesAnswer,
  bucketsAnswer,
  type HealthAnswer,
  healthAnswer,
  type ReplayView,
  type SummaryAnswer,
  summaryAnswer,
} from '../../../../shared/contracts/api.ts';
export type { CleanMessage } from '../../../../shared/contracts/clean-message.ts';
