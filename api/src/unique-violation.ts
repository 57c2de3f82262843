// With driver adapters Prisma 7 still raises P2002 on unique violations, but `meta.target` is gone
// and the constraint detail is shaped differently per adapter: match on the code, and read the
// constraint name defensively when a caller needs to know which one.
export function isUniqueViolation(error: unknown): boolean {
  return typeof error === 'object' && error !== null && (error as { code?: unknown }).code === 'P2002';
}
