// Templates of the current environment: list, open, delete.
import { useState } from 'react';
import { Link, useNavigate } from 'react-router';
import { useQuery } from 'urql';
import { Badge } from '../../components/badge.tsx';
import { PageHeader } from '../../components/page.tsx';
import { QueryView, retryWith } from '../../components/query.tsx';
import { Alert, EmptyState } from '../../components/states.tsx';
import { RowAction, Table } from '../../components/table.tsx';
import { Time } from '../../components/time.tsx';
import { useProject } from '../../lib/project.tsx';
import { DeleteTemplateDialog } from './delete-template.tsx';
import { NEW_TEMPLATE_PATH, TEMPLATES, TemplatesDocument } from './documents.ts';

export function TemplatesPage() {
  const { environmentId, base, can } = useProject();
  const navigate = useNavigate();
  const [result, refetch] = useQuery({
    query: TemplatesDocument,
    variables: { environmentId },
    requestPolicy: 'cache-and-network',
    context: TEMPLATES,
  });
  const [deleting, setDeleting] = useState<{ id: string; key: string } | null>(null);
  return (
    <>
      <PageHeader
        title="Templates"
        description="Nunjucks sources for a notification's title, body and link. Send with send(template: key, data: {…})."
        actions={
          can.manage ? (
            <Link className="button button-primary" to={`${base}/${NEW_TEMPLATE_PATH}`} data-testid="new-template">
              New template
            </Link>
          ) : null
        }
      />
      {!can.manage ? <Alert tone="info">You can read templates and preview them; admins and owners edit them.</Alert> : null}
      <QueryView result={result} retry={retryWith(refetch)}>
        {(data) =>
          data.templates.length === 0 ? (
            <EmptyState
              title="No templates in this environment"
              action={
                can.manage ? (
                  <Link className="button button-primary" to={`${base}/${NEW_TEMPLATE_PATH}`}>
                    Create a template
                  </Link>
                ) : null
              }
            >
              Templates keep wording out of your code: your backend sends a key and data.
            </EmptyState>
          ) : (
            <Table
              testId="templates-table"
              columns={[
                { label: 'Key' },
                { label: 'Name' },
                { label: 'Category', optional: true },
                { label: 'Updated', optional: true },
                { label: 'Actions', hidden: true },
              ]}
            >
              <tbody>
                {data.templates.map((t) => {
                  const href = `${base}/templates/${encodeURIComponent(t.key)}`;
                  return (
                    <tr key={t.id} className="row-link" data-testid="template-row" onClick={() => navigate(href)}>
                      <td>
                        <Link to={href} onClick={(e) => e.stopPropagation()}>
                          <code>{t.key}</code>
                        </Link>
                      </td>
                      <td>{t.name ?? <span className="muted">—</span>}</td>
                      <td className="col-optional">{t.category ? <Badge>{t.category}</Badge> : <span className="muted">—</span>}</td>
                      <td className="col-optional">
                        <Time value={t.updatedAt} />
                      </td>
                      <RowAction
                        label={`Delete template ${t.key}`}
                        testId="delete-template"
                        onClick={
                          can.manage
                            ? (e) => {
                                e.stopPropagation();
                                setDeleting({ id: t.id, key: t.key });
                              }
                            : undefined
                        }
                      >
                        Delete
                      </RowAction>
                    </tr>
                  );
                })}
              </tbody>
            </Table>
          )
        }
      </QueryView>
      <DeleteTemplateDialog template={deleting} onClose={() => setDeleting(null)} />
    </>
  );
}
