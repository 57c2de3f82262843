// Live preview: the sources and sample data, debounced, rendered by the API through the same
// sandbox as the worker. Only the newest request's answer is shown.
import { useEffect, useRef, useState } from 'react';
import { useMutation } from 'urql';
import type { PreviewTemplateInput, PreviewTemplateMutation } from '../../gql/graphql.ts';
import { describeError } from '../../lib/errors.ts';
import { useDebounced } from '../../lib/use-debounced.ts';
import { PreviewTemplateDocument } from './documents.ts';

type Result = PreviewTemplateMutation['previewTemplate'];
export type RenderedPreview = Extract<Result, { __typename: 'TemplatePreview' }>;
export type RenderError = Extract<Result, { __typename: 'TemplateRenderError' }>;

export interface PreviewState {
  pending: boolean;
  preview: RenderedPreview | null;
  renderError: RenderError | null;
  /** Validation or transport problems (not the template's fault). */
  problem: string | null;
}

export function usePreview(environmentId: string, input: PreviewTemplateInput | null): PreviewState {
  const serialized = input ? JSON.stringify(input) : null;
  const settled = useDebounced(serialized, 300);
  const [, execute] = useMutation(PreviewTemplateDocument);
  const sequence = useRef(0);
  const [state, setState] = useState<PreviewState>({ pending: false, preview: null, renderError: null, problem: null });

  useEffect(() => {
    if (settled === null) return;
    const n = ++sequence.current;
    setState((s) => ({ ...s, pending: true }));
    execute({ environmentId, input: JSON.parse(settled) as PreviewTemplateInput }).then((result) => {
      if (n !== sequence.current) return;
      const payload = result.data?.previewTemplate;
      if (result.error || !payload) {
        setState((s) => ({ ...s, pending: false, problem: describeError(result.error) }));
      } else if (payload.__typename === 'TemplatePreview') {
        setState({ pending: false, preview: payload, renderError: null, problem: null });
      } else if (payload.__typename === 'TemplateRenderError') {
        setState((s) => ({ pending: false, preview: s.preview, renderError: payload, problem: null }));
      } else {
        setState((s) => ({
          pending: false,
          preview: s.preview,
          renderError: null,
          problem: payload.issues.map((i) => i.message).join(' ') || payload.message,
        }));
      }
    });
  }, [settled, environmentId, execute]);

  return { ...state, pending: state.pending || serialized !== settled };
}
