import { afterEach, describe, expect, it, vi } from 'vitest';
import { main } from './main';
import { captureOutput } from './test-support/capture';

// A version no release has had: `moge --version` must print whatever package.json says.
vi.mock('../package.json', () => ({ version: '9.8.7' }));

afterEach(() => vi.restoreAllMocks());

describe('moge --version', () => {
  it("prints the package's version from package.json", async () => {
    const { out } = captureOutput();
    expect(await main(['--version'])).toBe(0);
    expect(out.join('')).toBe('9.8.7\n');
  });
});
