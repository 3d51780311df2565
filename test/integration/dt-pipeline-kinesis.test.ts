/** The dt pipeline end to end over Kinesis: the same body as over Kafka (dt-pipeline.shared.ts). */
import { describeDtPipeline } from './dt-pipeline.shared.ts';

describeDtPipeline('kinesis');
