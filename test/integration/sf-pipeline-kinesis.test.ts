/** The sf pipeline end to end over Kinesis: the same body as over Kafka (sf-pipeline.shared.ts). */
import { describeSfPipeline } from './sf-pipeline.shared.ts';

describeSfPipeline('kinesis');
