/**
 * A real headless Chromium for tests: Debian's /usr/bin/chromium driven by playwright-core (never a
 * browser downloaded by Playwright). Flags as in the environment notes: no sandbox (root in CI), no
 * GPU, no background traffic.
 */
import { existsSync } from 'node:fs';
import { type Browser, chromium } from 'playwright-core';

export const CHROMIUM_PATH = process.env.DRIFTLINE_CHROMIUM ?? '/usr/bin/chromium';

export const CHROMIUM_FLAGS = [
  '--headless',
  '--no-sandbox',
  '--disable-gpu',
  '--disable-quic',
  '--no-first-run',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
  '--disable-dev-shm-usage',
];

/** Why browser tests cannot run here, or undefined when they can. */
export function browserUnavailableReason(): string | undefined {
  return existsSync(CHROMIUM_PATH)
    ? undefined
    : `no Chromium at ${CHROMIUM_PATH} (apt-get install -y chromium, or set DRIFTLINE_CHROMIUM)`;
}

export function launchChromium(): Promise<Browser> {
  return chromium.launch({
    executablePath: CHROMIUM_PATH,
    headless: true,
    args: CHROMIUM_FLAGS,
    timeout: 60_000,
  });
}
