/** Pigeon's mark: a paper plane in a rounded square. */
export function Logo({ size = 24 }: { size?: number }) {
  return (
    <svg className="brand-mark" width={size} height={size} viewBox="0 0 24 24" aria-hidden="true" focusable="false">
      <rect width="24" height="24" rx="6" fill="#4f6bed" />
      <path d="M5 11.6 18.5 5.5 15.2 18.6 11.6 14.4 16.3 8.4 9.9 13 Z" fill="#fff" />
    </svg>
  );
}
