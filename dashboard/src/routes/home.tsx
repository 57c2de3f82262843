// "/": straight into the project used last (or the first one); to the project list when there is none.
import { Navigate } from 'react-router';
import { useQuery } from 'urql';
import { Shell } from '../components/shell.tsx';
import { ErrorState, FullPage, Loading } from '../components/states.tsx';
import { describeError } from '../lib/errors.ts';
import { lastProject, ProjectsDocument } from '../lib/project.tsx';

export function HomeRedirect() {
  const [result, refetch] = useQuery({ query: ProjectsDocument, requestPolicy: 'cache-and-network' });
  if (result.error && !result.data) {
    return (
      <Shell scope={null}>
        <ErrorState message={describeError(result.error)} onRetry={() => refetch({ requestPolicy: 'network-only' })} />
      </Shell>
    );
  }
  if (!result.data) {
    return (
      <FullPage>
        <Loading />
      </FullPage>
    );
  }
  const projects = result.data.projects;
  if (projects.length === 0) return <Navigate to="/projects" replace />;
  const remembered = lastProject();
  const project = projects.find((p) => p.id === remembered) ?? projects[0];
  return <Navigate to={`/projects/${project?.id}/development`} replace />;
}
