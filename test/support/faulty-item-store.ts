/**
 * A fault-injecting wrapper of the state-store port (shared/pipeline/ports.ts's ItemStore): every
 * Nth call fails the way a DynamoDB call fails, in rotation:
 * - `ProvisionedThroughputExceededException` / `ThrottlingException`: refused, nothing written;
 * - a timeout: the write *was applied*, only its answer is lost (the hardest case: a retry must
 *   recognise its own write);
 * - a socket reset (`ECONNRESET`) before the request arrived: nothing written.
 * The errors carry the names and codes the AWS SDK gives them, so code that tells faults apart by
 * name sees what it would see on AWS.
 */
import type { ItemKey, ItemStore, StoredItem, WriteCondition } from '../../shared/pipeline/ports.ts';

export type DynamoDbFault = 'throughput-exceeded' | 'throttling' | 'timeout' | 'reset';
export const ALL_DYNAMODB_FAULTS: readonly DynamoDbFault[] = [
  'throughput-exceeded',
  'throttling',
  'timeout',
  'reset',
];

type Operation = 'get' | 'put' | 'query';

/** The error the AWS SDK throws for `fault` (name, message and code as it gives them). */
export function dynamoDbFaultError(fault: DynamoDbFault): Error {
  const named = (name: string, message: string, code?: string) =>
    Object.assign(new Error(message), { name, ...(code === undefined ? {} : { code }) });
  switch (fault) {
    case 'throughput-exceeded':
      return named(
        'ProvisionedThroughputExceededException',
        'The level of configured provisioned throughput for the table was exceeded.',
      );
    case 'throttling':
      return named('ThrottlingException', 'Rate of requests exceeds the allowed throughput.');
    case 'timeout':
      return named('TimeoutError', 'Connection timed out after 5000 ms', 'ETIMEDOUT');
    case 'reset':
      return named('Error', 'socket hang up', 'ECONNRESET');
  }
}

export class FaultyItemStore implements ItemStore {
  private calls = 0;
  /** How many faults of each kind were injected so far. */
  readonly injected: Record<DynamoDbFault, number> = {
    'throughput-exceeded': 0,
    throttling: 0,
    timeout: 0,
    reset: 0,
  };

  constructor(
    private readonly inner: ItemStore,
    private readonly options: {
      /** Every `everyNth` call (of the operations below) fails. */
      readonly everyNth: number;
      readonly operations?: readonly Operation[];
      readonly faults?: readonly DynamoDbFault[];
    },
  ) {}

  /** The total number of faults injected. */
  get injectedCount(): number {
    return Object.values(this.injected).reduce((sum, count) => sum + count, 0);
  }

  /** The fault for this call, or undefined when it goes through. */
  private nextFault(operation: Operation): DynamoDbFault | undefined {
    if (!(this.options.operations ?? ['get', 'put', 'query']).includes(operation)) return undefined;
    this.calls += 1;
    if (this.calls % this.options.everyNth !== 0) return undefined;
    const faults = this.options.faults ?? ALL_DYNAMODB_FAULTS;
    const fault = faults[(this.calls / this.options.everyNth - 1) % faults.length];
    if (fault !== undefined) this.injected[fault] += 1;
    return fault;
  }

  async get(key: ItemKey): Promise<StoredItem | undefined> {
    const fault = this.nextFault('get');
    if (fault === undefined) return this.inner.get(key);
    // A read that timed out has changed nothing either.
    throw dynamoDbFaultError(fault);
  }

  async put(item: StoredItem, condition: WriteCondition | undefined): Promise<boolean> {
    const fault = this.nextFault('put');
    if (fault === undefined) return this.inner.put(item, condition);
    if (fault === 'timeout') await this.inner.put(item, condition);
    throw dynamoDbFaultError(fault);
  }

  async query(pk: string, range?: Parameters<ItemStore['query']>[1]): Promise<StoredItem[]> {
    const fault = this.nextFault('query');
    if (fault === undefined) return this.inner.query(pk, range);
    throw dynamoDbFaultError(fault);
  }
}
