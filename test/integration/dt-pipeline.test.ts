/** The dt pipeline end to end over Kafka (the body: dt-pipeline.shared.ts). */
import { describeDtPipeline } from './dt-pipeline.shared.ts';

describeDtPipeline('kafka');
