// Create or edit a template, with a live preview rendered by the API and a test send.
import { type FormEvent, useMemo, useState } from 'react';
import { useLocation, useNavigate, useParams } from 'react-router';
import { useMutation, useQuery } from 'urql';
import { Badge } from '../../components/badge.tsx';
import { CodeEditor } from '../../components/code-editor.tsx';
import { Field, TextField } from '../../components/field.tsx';
import { PageHeader } from '../../components/page.tsx';
import { QueryView, retryWith } from '../../components/query.tsx';
import { Alert, EmptyState, Spinner } from '../../components/states.tsx';
import { Time } from '../../components/time.tsx';
import type { TemplateFieldsFragment } from '../../gql/graphql.ts';
import { describeError, issuesByField } from '../../lib/errors.ts';
import { useProject } from '../../lib/project.tsx';
import { parseJsonInput } from '../../lib/text.ts';
import { DeleteTemplateDialog } from './delete-template.tsx';
import { CreateTemplateDocument, TEMPLATES, TemplateDocument, UpdateTemplateDocument } from './documents.ts';
import { describeRenderError, PreviewPane } from './preview-pane.tsx';
import { guessSampleData, lineFromMessage, loadSample, saveSample } from './sample-data.ts';
import { TestSendPanel } from './test-send.tsx';
import { usePreview } from './use-preview.ts';

interface Draft {
  key: string;
  name: string;
  category: string;
  title: string;
  body: string;
  actionUrl: string;
}

function draftOf(t: TemplateFieldsFragment | null): Draft {
  return {
    key: t?.key ?? '',
    name: t?.name ?? '',
    category: t?.category ?? '',
    title: t?.title ?? '',
    body: t?.body ?? '',
    actionUrl: t?.actionUrl ?? '',
  };
}

const TEMPLATE_FORM_ID = 'template-form';

const orNull = (value: string) => (value.trim() === '' ? null : value.trim());

export function TemplateEditorPage() {
  const { key } = useParams();
  const { environmentId, base } = useProject();
  const notice = (useLocation().state as { notice?: string } | null)?.notice ?? null;
  const [result, refetch] = useQuery({
    query: TemplateDocument,
    variables: { environmentId, key: key ?? '' },
    pause: !key,
    requestPolicy: 'cache-and-network',
  });
  if (!key) return <TemplateForm template={null} />;
  return (
    <QueryView result={result} retry={retryWith(refetch)} loadingLabel="Loading template…">
      {(data) =>
        data.template ? (
          <TemplateForm key={data.template.id} template={data.template} initialNotice={notice} />
        ) : (
          <>
            <PageHeader title="Template not found" back={{ to: `${base}/templates`, label: 'Templates' }} />
            <EmptyState title={`No template “${key}” in this environment`}>
              It may have been deleted or renamed, or it lives in the other environment.
            </EmptyState>
          </>
        )
      }
    </QueryView>
  );
}

function TemplateForm({ template, initialNotice = null }: { template: TemplateFieldsFragment | null; initialNotice?: string | null }) {
  const { environmentId, base, can } = useProject();
  const navigate = useNavigate();
  const [draft, setDraft] = useState<Draft>(() => draftOf(template));
  const [saved, setSaved] = useState<Draft>(() => draftOf(template));
  const [sample, setSample] = useState(
    () => (template && loadSample(environmentId, template.key)) ?? guessSampleData([template?.title, template?.body, template?.actionUrl]),
  );
  const [recipient, setRecipient] = useState({ id: 'user-42', name: 'Ada Lovelace', email: 'ada@example.com' });
  const [fieldErrors, setFieldErrors] = useState<Record<string, string>>({});
  const [formError, setFormError] = useState<string | null>(null);
  const [notice, setNotice] = useState<string | null>(initialNotice);
  const [deleting, setDeleting] = useState(false);
  const [createState, create] = useMutation(CreateTemplateDocument);
  const [updateState, update] = useMutation(UpdateTemplateDocument);
  const readOnly = !can.manage;
  const dirty = JSON.stringify(draft) !== JSON.stringify(saved);

  const json = useMemo(() => parseJsonInput(sample), [sample]);
  const jsonError = json.ok
    ? json.value !== null && (typeof json.value !== 'object' || Array.isArray(json.value))
      ? 'Sample data must be a JSON object, e.g. { "name": "Ada" }.'
      : null
    : json.message;
  const jsonLine = json.ok ? null : json.line;
  const previewInput =
    jsonError === null && draft.title !== ''
      ? {
          title: draft.title,
          body: draft.body,
          actionUrl: orNull(draft.actionUrl),
          data: json.ok ? json.value : null,
          recipient: { id: orNull(recipient.id), name: orNull(recipient.name), email: orNull(recipient.email) },
        }
      : null;
  const preview = usePreview(environmentId, previewInput);
  const renderError = preview.pending ? null : preview.renderError;

  function set<K extends keyof Draft>(field: K, value: Draft[K]) {
    setDraft((d) => ({ ...d, [field]: value }));
    setNotice(null);
  }
  function changeSample(text: string) {
    setSample(text);
    if (template) saveSample(environmentId, template.key, text);
  }

  /** The editor's message for a field: a save error first, else a live render error there. */
  function problemAt(field: 'title' | 'body' | 'actionUrl' | 'data'): { message: string; line: number | null } | null {
    const saveError = fieldErrors[field];
    if (saveError) return { message: saveError, line: lineFromMessage(saveError) };
    if (renderError && renderError.field === field) return { message: describeRenderError(renderError), line: renderError.line ?? null };
    return null;
  }

  async function submit(event: FormEvent) {
    event.preventDefault();
    setFieldErrors({});
    setFormError(null);
    setNotice(null);
    const common = {
      key: draft.key.trim(),
      name: orNull(draft.name),
      category: orNull(draft.category),
      title: draft.title,
      body: draft.body,
      actionUrl: orNull(draft.actionUrl),
    };
    const result = template
      ? await update({ environmentId, id: template.id, input: common }, TEMPLATES)
      : await create({ environmentId, input: common }, TEMPLATES);
    if (result.error) {
      setFormError(describeError(result.error));
      return;
    }
    const payload = result.data && ('updateTemplate' in result.data ? result.data.updateTemplate : result.data.createTemplate);
    if (!payload) return;
    switch (payload.__typename) {
      case 'CreateTemplateSuccess':
      case 'UpdateTemplateSuccess': {
        const next = draftOf(payload.template);
        setSaved(next);
        setDraft(next);
        saveSample(environmentId, payload.template.key, sample);
        // The same words before and after the move to the template's own URL: the form on the
        // old URL stays up until the new one has loaded.
        const message = template ? 'Saved.' : 'Template created.';
        setNotice(message);
        if (!template || template.key !== payload.template.key) {
          navigate(`${base}/templates/${encodeURIComponent(payload.template.key)}`, {
            replace: true,
            state: { notice: message },
          });
        }
        break;
      }
      case 'ConflictError':
        setFieldErrors({ key: payload.message });
        break;
      case 'NotFoundError':
        setFormError(payload.message);
        break;
      case 'ValidationError': {
        const byField = issuesByField(payload.issues);
        setFieldErrors(byField);
        if (byField['']) setFormError(byField['']);
        break;
      }
    }
  }

  const saving = createState.fetching || updateState.fetching;
  const titleProblem = problemAt('title');
  const bodyProblem = problemAt('body');
  const urlProblem = problemAt('actionUrl');
  const dataProblem = problemAt('data');

  return (
    <div className="stack" style={{ gap: 20 }}>
      <PageHeader
        back={{ to: `${base}/templates`, label: 'Templates' }}
        title={template ? <code className="heading-code">{template.key}</code> : 'New template'}
        documentTitle={template ? `Template ${template.key}` : 'New template'}
        description={
          template ? (
            <>
              Updated <Time value={template.updatedAt} /> · created <Time value={template.createdAt} />{' '}
              {dirty ? <Badge tone="warning">Unsaved changes</Badge> : null}
            </>
          ) : (
            'Title, body and action URL are Nunjucks templates. Variables come from send(data:) and recipient.'
          )
        }
        actions={
          readOnly ? null : (
            <>
              {template ? (
                <button
                  type="button"
                  className="button button-danger-ghost"
                  onClick={() => setDeleting(true)}
                  data-testid="delete-template"
                >
                  Delete
                </button>
              ) : null}
              <button
                type="submit"
                form={TEMPLATE_FORM_ID}
                className="button button-primary"
                disabled={saving || (!!template && !dirty)}
                data-testid="save-template"
              >
                {saving ? <Spinner small /> : null}
                {template ? 'Save changes' : 'Create template'}
              </button>
            </>
          )
        }
      />
      {readOnly ? <Alert tone="info">Read only: admins and owners edit templates. The preview works for everyone.</Alert> : null}
      {formError ? <Alert testId="template-form-error">{formError}</Alert> : null}
      {notice ? (
        <Alert tone="success" testId="template-saved">
          {notice}
        </Alert>
      ) : null}
      <div className="editor">
        <form id={TEMPLATE_FORM_ID} onSubmit={submit} noValidate className="stack" data-testid="template-form">
          <section className="panel form" aria-label="Template">
            <div className="grid-3">
              <TextField
                label="Key"
                value={draft.key}
                onChange={(e) => set('key', e.target.value)}
                error={fieldErrors.key}
                hint={
                  readOnly
                    ? undefined
                    : template
                      ? 'Renaming breaks sends that use the old key.'
                      : 'What send(template:) names: lower-case, digits, . _ -'
                }
                readOnly={readOnly}
                placeholder={readOnly ? undefined : 'order-shipped'}
                data-testid="template-key"
              />
              <TextField
                label="Name"
                value={draft.name}
                onChange={(e) => set('name', e.target.value)}
                error={fieldErrors.name}
                readOnly={readOnly}
                placeholder={readOnly ? '—' : 'Order shipped'}
                data-testid="template-name"
              />
              <TextField
                label="Category"
                value={draft.category}
                onChange={(e) => set('category', e.target.value)}
                error={fieldErrors.category}
                readOnly={readOnly}
                placeholder={readOnly ? '—' : 'orders'}
                data-testid="template-category"
              />
            </div>
            <Field label="Title" error={titleProblem?.message}>
              {(control) => (
                <CodeEditor
                  {...control}
                  value={draft.title}
                  onChange={(v) => set('title', v)}
                  errorLine={titleProblem?.line}
                  minLines={1}
                  readOnly={readOnly}
                  data-testid="template-title"
                />
              )}
            </Field>
            <Field label="Body" error={bodyProblem?.message} hint="HTML is allowed; variables are escaped.">
              {(control) => (
                <CodeEditor
                  {...control}
                  value={draft.body}
                  onChange={(v) => set('body', v)}
                  errorLine={bodyProblem?.line}
                  minLines={6}
                  readOnly={readOnly}
                  data-testid="template-body"
                />
              )}
            </Field>
            <Field label="Action URL (optional)" error={urlProblem?.message} hint="An http(s) URL or a path starting with “/”.">
              {(control) => (
                <CodeEditor
                  {...control}
                  value={draft.actionUrl}
                  onChange={(v) => set('actionUrl', v)}
                  errorLine={urlProblem?.line}
                  minLines={1}
                  readOnly={readOnly}
                  data-testid="template-action-url"
                />
              )}
            </Field>
          </section>
          <section className="panel form" aria-labelledby="sample-heading">
            <div className="section-header">
              <h2 id="sample-heading">Sample data</h2>
              <button
                type="button"
                className="button button-small"
                onClick={() => changeSample(guessSampleData([draft.title, draft.body, draft.actionUrl]))}
                data-testid="guess-sample"
              >
                Fill from template variables
              </button>
            </div>
            <Field
              label="Data (JSON object, as send(data:) passes it)"
              error={jsonError ? `Invalid JSON${jsonLine ? ` (line ${jsonLine})` : ''}: ${jsonError}` : dataProblem?.message}
            >
              {(control) => (
                <CodeEditor
                  {...control}
                  value={sample}
                  onChange={changeSample}
                  errorLine={jsonLine ?? dataProblem?.line}
                  minLines={4}
                  data-testid="sample-data"
                />
              )}
            </Field>
            <div className="grid-3">
              <TextField
                label="recipient.id"
                value={recipient.id}
                onChange={(e) => setRecipient((r) => ({ ...r, id: e.target.value }))}
                data-testid="sample-recipient-id"
              />
              <TextField
                label="recipient.name"
                value={recipient.name}
                onChange={(e) => setRecipient((r) => ({ ...r, name: e.target.value }))}
                data-testid="sample-recipient-name"
              />
              <TextField
                label="recipient.email"
                value={recipient.email}
                onChange={(e) => setRecipient((r) => ({ ...r, email: e.target.value }))}
                data-testid="sample-recipient-email"
              />
            </div>
          </section>
        </form>
        <div className="preview">
          <PreviewPane state={preview} jsonError={jsonError} />
          {template && can.manage ? (
            <TestSendPanel
              templateKey={saved.key}
              data={json.ok ? json.value : null}
              disabledReason={
                dirty ? 'Save your changes first: the test sends the saved template.' : jsonError ? 'Fix the sample data first.' : null
              }
            />
          ) : null}
        </div>
      </div>
      <DeleteTemplateDialog
        template={deleting && template ? { id: template.id, key: template.key } : null}
        onClose={() => setDeleting(false)}
        onDeleted={() => navigate(`${base}/templates`)}
      />
    </div>
  );
}
