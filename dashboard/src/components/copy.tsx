// Copy buttons and the "shown once" secret box.
import { type ReactNode, useEffect, useState } from 'react';

async function copyText(text: string): Promise<boolean> {
  try {
    await navigator.clipboard.writeText(text);
    return true;
  } catch {
    // The Clipboard API needs a secure context (https or localhost); fall back to a selection.
    const area = document.createElement('textarea');
    area.value = text;
    area.setAttribute('readonly', '');
    area.style.position = 'fixed';
    area.style.opacity = '0';
    document.body.append(area);
    area.select();
    const ok = document.execCommand('copy');
    area.remove();
    return ok;
  }
}

export function CopyButton({ value, what = 'value', testId }: { value: string; what?: string; testId?: string }) {
  const [state, setState] = useState<'idle' | 'copied' | 'failed'>('idle');
  useEffect(() => {
    if (state === 'idle') return;
    const timer = setTimeout(() => setState('idle'), 2000);
    return () => clearTimeout(timer);
  }, [state]);
  return (
    <button
      type="button"
      className="button button-small"
      aria-label={`Copy ${what}`}
      data-testid={testId ?? 'copy-button'}
      onClick={async () => setState((await copyText(value)) ? 'copied' : 'failed')}
    >
      {state === 'copied' ? 'Copied ✓' : state === 'failed' ? 'Copy failed' : 'Copy'}
    </button>
  );
}

export function SecretBox({ label, secret, children, testId }: { label: string; secret: string; children?: ReactNode; testId?: string }) {
  return (
    <div className="secret-box" data-testid={testId ?? 'secret-box'}>
      <div className="secret-label">{label}</div>
      <div className="secret-row">
        <code className="secret-value" data-testid="secret-value">
          {secret}
        </code>
        <CopyButton value={secret} what={label.toLowerCase()} />
      </div>
      {children ? <div className="secret-note">{children}</div> : null}
    </div>
  );
}
