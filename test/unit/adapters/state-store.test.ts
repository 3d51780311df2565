/** How the functions' state store reports what does not stop it: warnings in the function's log. */
import { describe, expect, it } from 'vitest';
import { loggedWarnings } from '../../../shared/adapters/state-store.ts';
import { CapturingLogger } from '../../support/lambda.ts';

describe('loggedWarnings', () => {
  it('logs a blob left behind and a refused stale read as warnings with their details', () => {
    // Arrange
    const logger = new CapturingLogger();
    const warnings = loggedWarnings(logger);

    // Act
    warnings.onOrphan?.('expiring/state/0f3a', new Error('AccessDenied'));
    warnings.onStaleRead?.({ pk: 'state#dt', sk: 'run#data_raw#0', read: 3, written: 4 });

    // Assert
    expect(logger.lines).toEqual([
      expect.objectContaining({
        level: 'WARN',
        message: 'could not delete a replaced state blob',
        blobKey: 'expiring/state/0f3a',
        error: expect.objectContaining({ name: 'Error', message: 'AccessDenied' }),
      }),
      expect.objectContaining({
        level: 'WARN',
        message: 'a stale read was refused; the work is retried',
        pk: 'state#dt',
        read: 3,
        written: 4,
      }),
    ]);
  });
});
