// A form's error messages: one per field, and one for the whole form.
import { useState } from 'react';
import { type Issue, issuesByField } from './errors.ts';

export function useFormErrors() {
  const [fields, setFields] = useState<Record<string, string>>({});
  const [formError, setFormError] = useState<string | null>(null);
  return {
    fields,
    formError,
    setFields,
    setFormError,
    /** Before a submit: no messages. */
    clear() {
      setFields({});
      setFormError(null);
    },
    /** A ValidationError's issues at their fields; those without a field for the whole form. */
    showIssues(issues: readonly Issue[]) {
      const byField = issuesByField(issues);
      setFields(byField);
      if (byField['']) setFormError(byField['']);
    },
  };
}
