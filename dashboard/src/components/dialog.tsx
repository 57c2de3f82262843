// Modal dialogs on the native <dialog> element (focus trap, Escape and the top layer for free).
import { type ReactNode, useEffect, useId, useRef, useState } from 'react';
import { Alert, Spinner } from './states.tsx';

interface DialogProps {
  open: boolean;
  title: string;
  onClose(): void;
  children: ReactNode;
  footer?: ReactNode;
  testId?: string;
  wide?: boolean;
}

export function Dialog({ open, title, onClose, children, footer, testId, wide }: DialogProps) {
  const ref = useRef<HTMLDialogElement>(null);
  const titleId = useId();
  useEffect(() => {
    const dialog = ref.current;
    if (!dialog) return;
    if (open && !dialog.open) dialog.showModal();
    if (!open && dialog.open) dialog.close();
  }, [open]);
  return (
    <dialog
      ref={ref}
      className={wide ? 'dialog dialog-wide' : 'dialog'}
      aria-labelledby={titleId}
      data-testid={testId}
      onCancel={(event) => {
        event.preventDefault();
        onClose();
      }}
    >
      {open ? (
        <>
          <header className="dialog-header">
            <h2 id={titleId}>{title}</h2>
            <button type="button" className="icon-button" aria-label="Close" onClick={onClose}>
              ×
            </button>
          </header>
          <div className="dialog-body">{children}</div>
          {footer ? <footer className="dialog-footer">{footer}</footer> : null}
        </>
      ) : null}
    </dialog>
  );
}

interface ConfirmProps {
  open: boolean;
  title: string;
  children: ReactNode;
  confirmLabel: string;
  tone?: 'danger' | 'primary';
  busy?: boolean;
  error?: string | null;
  onConfirm(): void;
  onClose(): void;
  testId?: string;
}

/** "Are you sure?" for destructive actions; stays open with the error if the action fails. */
export function ConfirmDialog({
  open,
  title,
  children,
  confirmLabel,
  tone = 'danger',
  busy,
  error,
  onConfirm,
  onClose,
  testId,
}: ConfirmProps) {
  return (
    <Dialog
      open={open}
      title={title}
      onClose={onClose}
      testId={testId ?? 'confirm-dialog'}
      footer={
        <>
          <button type="button" className="button" onClick={onClose} disabled={busy}>
            Cancel
          </button>
          <button
            type="button"
            className={tone === 'danger' ? 'button button-danger' : 'button button-primary'}
            onClick={onConfirm}
            disabled={busy}
            data-testid="confirm-button"
          >
            {busy ? <Spinner small /> : null}
            {confirmLabel}
          </button>
        </>
      }
    >
      <div className="confirm-text">{children}</div>
      {error ? <Alert>{error}</Alert> : null}
    </Dialog>
  );
}

/**
 * The item a confirmation dialog is open for. `action` runs on confirm and returns the message to
 * keep the dialog open with, or null to close it; closing clears the message. Spread `dialog` on a
 * ConfirmDialog.
 */
export function useConfirm<T>(action: (target: T) => Promise<string | null>) {
  const [target, setTarget] = useState<T | null>(null);
  const [error, setError] = useState<string | null>(null);
  function close() {
    setTarget(null);
    setError(null);
  }
  async function confirm() {
    if (target === null) return;
    setError(null);
    const failure = await action(target);
    if (failure) setError(failure);
    else close();
  }
  return {
    target,
    ask: (item: T) => setTarget(() => item),
    dialog: { open: target !== null, error, onConfirm: confirm, onClose: close },
  };
}
