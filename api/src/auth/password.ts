// Dashboard passwords: Argon2id (memory-hard) through Node's built-in crypto.argon2, with OWASP's
// minimum parameters (19 MiB, 2 passes). Stored in PHC string format so parameters can change later.
import { argon2, randomBytes, timingSafeEqual } from 'node:crypto';
import { promisify } from 'node:util';

const argon2Async = promisify(argon2);
const params = { memory: 19_456, passes: 2, parallelism: 1, tagLength: 32 };

export const PASSWORD_MIN_LENGTH = 10;
export const PASSWORD_MAX_LENGTH = 256;

/** A reason the password is too weak, or null. Length beats composition rules (NIST 800-63B). */
export function passwordWeakness(password: string, email: string): string | null {
  if (password.length < PASSWORD_MIN_LENGTH) return `Password must be at least ${PASSWORD_MIN_LENGTH} characters long.`;
  if (password.length > PASSWORD_MAX_LENGTH) return `Password must be at most ${PASSWORD_MAX_LENGTH} characters long.`;
  if (new Set(password).size < 4) return 'Password must not be one character repeated.';
  if (password.toLowerCase().includes(email.split('@')[0]?.toLowerCase() || '\u0000')) {
    return 'Password must not contain your email name.';
  }
  return null;
}

export async function hashPassword(password: string): Promise<string> {
  const nonce = randomBytes(16);
  const tag = await argon2Async('argon2id', { message: password, nonce, ...params });
  return `$argon2id$v=19$m=${params.memory},t=${params.passes},p=${params.parallelism}$${nonce.toString('base64url')}$${tag.toString('base64url')}`;
}

export async function verifyPassword(password: string, stored: string): Promise<boolean> {
  const match = /^\$argon2id\$v=19\$m=(\d+),t=(\d+),p=(\d+)\$([\w-]+)\$([\w-]+)$/.exec(stored);
  if (!match) return false;
  const [, m, t, p, salt, hash] = match;
  const expected = Buffer.from(hash as string, 'base64url');
  const actual = await argon2Async('argon2id', {
    message: password,
    nonce: Buffer.from(salt as string, 'base64url'),
    memory: Number(m),
    passes: Number(t),
    parallelism: Number(p),
    tagLength: expected.length,
  });
  return timingSafeEqual(actual, expected);
}

/** A hash of a random password, verified against when the email is unknown, so timing does not
 * reveal which emails have accounts. */
export const dummyPasswordHash = await hashPassword(randomBytes(16).toString('hex'));
