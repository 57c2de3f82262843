// A list's filter kept in the URL's query, so a filtered view can be shared.
import type { ChangeEvent } from 'react';
import { useSearchParams } from 'react-router';

/**
 * The query; `update` sets some parameters (an empty value removes one), `clear` removes them all and
 * `bind` ties a select to one. None adds a history entry.
 */
export function useFilterParams() {
  const [params, setParams] = useSearchParams();
  function update(changes: Record<string, string>) {
    const next = new URLSearchParams(params);
    for (const [k, v] of Object.entries(changes)) {
      if (v) next.set(k, v);
      else next.delete(k);
    }
    setParams(next, { replace: true });
  }
  function clear() {
    setParams(new URLSearchParams(), { replace: true });
  }
  /** A select's `value` and `onChange`, bound to one parameter. */
  function bind(name: string) {
    return { value: params.get(name) ?? '', onChange: (e: ChangeEvent<HTMLSelectElement>) => update({ [name]: e.target.value }) };
  }
  return { params, update, clear, bind };
}
