/** The sf pipeline end to end over Kafka (the body: sf-pipeline.shared.ts). */
import { describeSfPipeline } from './sf-pipeline.shared.ts';

describeSfPipeline('kafka');
