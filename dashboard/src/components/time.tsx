// Timestamps: relative for scanning, absolute on hover (or shown beside it where precision matters).
import { useSyncExternalStore } from 'react';
import { formatAbsolute, formatRelative } from '../lib/time.ts';

// One clock for every timestamp on the page, ticking every 30 s so "just now" does not stay forever.
let now = Date.now();
const listeners = new Set<() => void>();
let timer: ReturnType<typeof setInterval> | null = null;

function subscribe(listener: () => void): () => void {
  listeners.add(listener);
  if (!timer) {
    timer = setInterval(() => {
      now = Date.now();
      for (const l of listeners) l();
    }, 30_000);
  }
  return () => {
    listeners.delete(listener);
    if (listeners.size === 0 && timer) {
      clearInterval(timer);
      timer = null;
    }
  };
}

function useNow(): number {
  return useSyncExternalStore(subscribe, () => now);
}

export function Time({ value, both = false, empty = '—' }: { value: string | null | undefined; both?: boolean; empty?: string }) {
  // The shared clock makes every timestamp render again each 30 s; the text itself is relative to
  // this render, or a time that arrived after the last tick would read as future ("in 10 sec.").
  useNow();
  if (!value) return <span className="muted">{empty}</span>;
  const abs = formatAbsolute(value);
  const rel = formatRelative(value, Date.now());
  if (both) {
    return (
      <time dateTime={value} title={value} className="time-both">
        <span>{abs}</span> <span className="muted">({rel})</span>
      </time>
    );
  }
  return (
    <time dateTime={value} title={abs}>
      {rel}
    </time>
  );
}
