import { RenderedHtml } from '../../components/rendered.tsx';
import { Alert, Spinner } from '../../components/states.tsx';
import type { PreviewState } from './use-preview.ts';

const FIELD_LABEL: Record<string, string> = { title: 'Title', body: 'Body', actionUrl: 'Action URL', data: 'Sample data' };

export function describeRenderError(e: { field: string; message: string; line: number | null; column: number | null }): string {
  const where = e.line ? `line ${e.line}${e.column ? `, column ${e.column}` : ''}` : null;
  return `${FIELD_LABEL[e.field] ?? e.field}${where ? `, ${where}` : ''}: ${e.message}`;
}

export function PreviewPane({ state, jsonError }: { state: PreviewState; jsonError: string | null }) {
  const { preview, renderError, problem, pending } = state;
  return (
    <section className="panel stack" aria-labelledby="preview-heading" data-testid="template-preview">
      <div className="section-header">
        <h2 id="preview-heading">Preview</h2>
        <span className="preview-status" aria-live="polite">
          {pending ? (
            <>
              <Spinner small /> Rendering…
            </>
          ) : renderError || jsonError ? (
            'Not rendered'
          ) : preview ? (
            'Up to date'
          ) : null}
        </span>
      </div>
      {jsonError ? (
        <Alert tone="warning" testId="preview-json-error">
          Fix the sample data to update the preview.
        </Alert>
      ) : null}
      {renderError ? (
        <Alert testId="preview-render-error">
          <strong>Cannot render.</strong> {describeRenderError(renderError)}
        </Alert>
      ) : null}
      {problem ? <Alert>{problem}</Alert> : null}
      {preview ? (
        <div className={renderError || jsonError ? 'preview-card preview-stale' : 'preview-card'} data-testid="preview-card">
          <span className="preview-dot" aria-hidden="true" />
          <div className="stack" style={{ gap: 4, minWidth: 0 }}>
            <RenderedHtml className="preview-title" html={preview.title} testId="preview-title" />
            <RenderedHtml className="preview-body" html={preview.body} testId="preview-body" />
            {preview.actionUrl ? (
              <div className="preview-url" data-testid="preview-action-url">
                → {preview.actionUrl}
              </div>
            ) : null}
          </div>
        </div>
      ) : !renderError && !jsonError ? (
        <p className="muted">The rendered notification appears here as you type.</p>
      ) : null}
      <p className="field-hint">Rendered by the API in the worker's sandbox, with the sample data and recipient below.</p>
    </section>
  );
}
