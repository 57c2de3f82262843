// Every project the user belongs to, and creating a new one (its creator becomes OWNER).
import { type FormEvent, useState } from 'react';
import { Link, useNavigate } from 'react-router';
import { useMutation, useQuery } from 'urql';
import { RoleBadge } from '../../components/badge.tsx';
import { TextField } from '../../components/field.tsx';
import { PageHeader, Section } from '../../components/page.tsx';
import { Shell } from '../../components/shell.tsx';
import { Alert, EmptyState, ErrorState, Loading, Spinner } from '../../components/states.tsx';
import { Time } from '../../components/time.tsx';
import { graphql } from '../../gql/index.ts';
import { describeError, issuesByField } from '../../lib/errors.ts';
import { ProjectsDocument } from '../../lib/project.tsx';

const CreateProjectDocument = graphql(`
  mutation CreateProject($input: CreateProjectInput!) {
    createProject(input: $input) {
      __typename
      ... on CreateProjectSuccess { project { id name viewerRole createdAt environments { id kind } } }
      ... on ValidationError { ...Issues }
    }
  }
`);

function CreateProjectForm({ first }: { first: boolean }) {
  const navigate = useNavigate();
  const [name, setName] = useState('');
  const [error, setError] = useState<string | null>(null);
  const [state, create] = useMutation(CreateProjectDocument);
  async function submit(event: FormEvent) {
    event.preventDefault();
    setError(null);
    const result = await create({ input: { name } }, { additionalTypenames: ['Project'] });
    const payload = result.data?.createProject;
    if (result.error) setError(describeError(result.error));
    else if (payload?.__typename === 'ValidationError') setError(issuesByField(payload.issues).name ?? payload.message);
    else if (payload?.__typename === 'CreateProjectSuccess') navigate(`/projects/${payload.project.id}/development`);
  }
  return (
    <form className="form form-inline" onSubmit={submit} noValidate data-testid="create-project-form">
      <TextField
        label={first ? 'Name your first project' : 'New project name'}
        value={name}
        onChange={(e) => setName(e.target.value)}
        error={error}
        placeholder="e.g. Acme web app"
        data-testid="project-name"
        maxLength={100}
      />
      <button type="submit" className="button button-primary" disabled={state.fetching} data-testid="create-project">
        {state.fetching ? <Spinner small /> : null}
        Create project
      </button>
    </form>
  );
}

export function ProjectsPage() {
  const [result, refetch] = useQuery({ query: ProjectsDocument, requestPolicy: 'cache-and-network' });
  const projects = result.data?.projects;
  return (
    <Shell scope={null}>
      <PageHeader title="Projects" description="Each project has a development and a production environment, and its own members." />
      {result.error && !projects ? (
        <ErrorState message={describeError(result.error)} onRetry={() => refetch({ requestPolicy: 'network-only' })} />
      ) : !projects ? (
        <Loading />
      ) : (
        <>
          {projects.length === 0 ? (
            <EmptyState title="You are not in any project yet">Create one below, or ask a project owner for an invitation link.</EmptyState>
          ) : (
            <ul className="card-list" data-testid="project-list">
              {projects.map((p) => (
                <li key={p.id}>
                  <Link className="card card-link" to={`/projects/${p.id}/development`} data-testid="project-link">
                    <span className="card-title">{p.name}</span>
                    <span className="card-meta">
                      {p.viewerRole ? <RoleBadge role={p.viewerRole} /> : null} created <Time value={p.createdAt} />
                    </span>
                  </Link>
                </li>
              ))}
            </ul>
          )}
          <Section title="Create a project">
            <CreateProjectForm first={projects.length === 0} />
          </Section>
        </>
      )}
      {result.error && projects ? <Alert>{describeError(result.error)}</Alert> : null}
    </Shell>
  );
}
