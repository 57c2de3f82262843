import { useState } from 'react';
import { useMutation } from 'urql';
import { ConfirmDialog } from '../../components/dialog.tsx';
import { describeError } from '../../lib/errors.ts';
import { useProject } from '../../lib/project.tsx';
import { DeleteTemplateDocument, TEMPLATES } from './documents.ts';

/** The delete confirmation; `onDeleted` runs after the API confirms. */
export function DeleteTemplateDialog({
  template,
  onClose,
  onDeleted,
}: {
  template: { id: string; key: string } | null;
  onClose(): void;
  onDeleted?: () => void;
}) {
  const { environmentId } = useProject();
  const [error, setError] = useState<string | null>(null);
  const [state, remove] = useMutation(DeleteTemplateDocument);
  async function confirm() {
    if (!template) return;
    setError(null);
    const result = await remove({ environmentId, id: template.id }, TEMPLATES);
    const payload = result.data?.deleteTemplate;
    if (result.error) setError(describeError(result.error));
    else if (payload?.__typename === 'NotFoundError') setError(payload.message);
    else {
      onClose();
      onDeleted?.();
    }
  }
  return (
    <ConfirmDialog
      open={template !== null}
      title="Delete template?"
      confirmLabel="Delete template"
      busy={state.fetching}
      error={error}
      onConfirm={confirm}
      onClose={() => {
        setError(null);
        onClose();
      }}
    >
      <p>
        Sends naming <code>{template?.key}</code> will fail with TEMPLATE_NOT_FOUND. Notifications already rendered keep their content; ones
        still waiting to render fail.
      </p>
    </ConfirmDialog>
  );
}
