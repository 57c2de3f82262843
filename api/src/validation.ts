// Input validation with zod, reported as a typed ValidationError listing every problem with its
// path, so a client can show each message next to the right field.
import type { z } from 'zod';
import { ValidationError } from './errors.ts';

export function validate<S extends z.ZodType>(schema: S, value: unknown, root = 'input'): z.infer<S> {
  const result = schema.safeParse(value);
  if (result.success) return result.data;
  throw new ValidationError(
    result.error.issues.map((issue) => ({
      path: [root, ...issue.path.map(String)].filter(Boolean).join('.'),
      message: issue.message,
    })),
  );
}
