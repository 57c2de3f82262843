// /projects/:projectId/:env — resolves the project and environment for every screen inside it.
import { useEffect, useMemo } from 'react';
import { Navigate, Outlet, useParams } from 'react-router';
import { useQuery } from 'urql';
import { Shell } from '../../components/shell.tsx';
import { ErrorState, FullPage, Loading } from '../../components/states.tsx';
import { describeError } from '../../lib/errors.ts';
import { ENV_KIND, isEnvSlug, ProjectContext, type ProjectScope, ProjectsDocument, rememberProject } from '../../lib/project.tsx';
import { abilities } from '../../lib/roles.ts';

export function ProjectLayout() {
  const { projectId, env } = useParams();
  const [result, refetch] = useQuery({ query: ProjectsDocument, requestPolicy: 'cache-and-network' });
  const projects = result.data?.projects;
  const scope = useMemo<ProjectScope | null>(() => {
    if (!projects || !isEnvSlug(env)) return null;
    const project = projects.find((p) => p.id === projectId);
    const environment = project?.environments.find((e) => e.kind === ENV_KIND[env]);
    if (!project || !environment) return null;
    return {
      project,
      projects,
      env,
      environmentId: environment.id,
      base: `/projects/${project.id}/${env}`,
      can: abilities(project.viewerRole),
    };
  }, [projects, projectId, env]);
  useEffect(() => {
    if (scope) rememberProject(scope.project.id);
  }, [scope]);

  if (!isEnvSlug(env)) return <Navigate to={`/projects/${projectId}/development`} replace />;
  if (result.error && !projects) {
    return (
      <Shell scope={null}>
        <ErrorState message={describeError(result.error)} onRetry={() => refetch({ requestPolicy: 'network-only' })} />
      </Shell>
    );
  }
  if (!projects) {
    return (
      <FullPage>
        <Loading />
      </FullPage>
    );
  }
  if (!scope) {
    return (
      <Shell scope={null}>
        <ErrorState
          title="Project not found"
          message="This project does not exist, or you are not one of its members. Pick another from the project list."
        />
      </Shell>
    );
  }
  return (
    <ProjectContext.Provider value={scope}>
      <Shell scope={scope}>
        <Outlet />
      </Shell>
    </ProjectContext.Provider>
  );
}
