// A textarea with line numbers and an error line marker: template sources and JSON are short, so
// a plain textarea (no wrapping, monospace) keeps editing native while errors point at a line.
import { type TextareaHTMLAttributes, useState } from 'react';

interface CodeEditorProps extends Omit<TextareaHTMLAttributes<HTMLTextAreaElement>, 'onChange' | 'value'> {
  value: string;
  onChange(value: string): void;
  /** 1-based line to mark, e.g. where a render error is. */
  errorLine?: number | null;
  minLines?: number;
}

const LINE_HEIGHT = 20;
const PADDING = 8;

export function CodeEditor({ value, onChange, errorLine, minLines = 3, className, ...textarea }: CodeEditorProps) {
  const [scroll, setScroll] = useState({ top: 0 });
  const count = Math.max(value.split('\n').length, minLines);
  const lines = Array.from({ length: count }, (_, i) => i + 1);
  const height = Math.min(count, 24) * LINE_HEIGHT + PADDING * 2 + 2;
  return (
    <div className={`code-editor${errorLine ? ' code-editor-error' : ''}${className ? ` ${className}` : ''}`} style={{ height }}>
      <div className="code-gutter" aria-hidden="true">
        <div style={{ transform: `translateY(${-scroll.top}px)` }}>
          {lines.map((n) => (
            <div key={n} className={n === errorLine ? 'gutter-line gutter-line-error' : 'gutter-line'}>
              {n}
            </div>
          ))}
        </div>
      </div>
      <div className="code-area">
        {errorLine ? (
          <div className="code-error-band" aria-hidden="true" style={{ top: PADDING + (errorLine - 1) * LINE_HEIGHT - scroll.top }} />
        ) : null}
        <textarea
          {...textarea}
          className="code-textarea"
          value={value}
          wrap="off"
          spellCheck={false}
          autoCapitalize="off"
          autoCorrect="off"
          onChange={(event) => onChange(event.target.value)}
          onScroll={(event) => setScroll({ top: event.currentTarget.scrollTop })}
        />
      </div>
    </div>
  );
}
