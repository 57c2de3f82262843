// The project and environment a screen acts on, from the URL /projects/:projectId/:env/…
import { createContext, useContext } from 'react';
import type { EnvironmentKind, ProjectsQuery } from '../gql/graphql.ts';
import { graphql } from '../gql/index.ts';
import type { Abilities } from './roles.ts';

export const ProjectsDocument = graphql(`
  query Projects {
    projects {
      id
      name
      createdAt
      viewerRole
      environments { id kind }
    }
  }
`);

export type ProjectSummary = ProjectsQuery['projects'][number];
export type EnvSlug = 'development' | 'production';

export const ENV_SLUGS: readonly EnvSlug[] = ['development', 'production'];
export const ENV_KIND: Record<EnvSlug, EnvironmentKind> = { development: 'DEVELOPMENT', production: 'PRODUCTION' };
export const ENV_LABEL: Record<EnvSlug, string> = { development: 'Development', production: 'Production' };

export function isEnvSlug(value: string | undefined): value is EnvSlug {
  return value === 'development' || value === 'production';
}

export interface ProjectScope {
  project: ProjectSummary;
  projects: readonly ProjectSummary[];
  env: EnvSlug;
  environmentId: string;
  /** `/projects/<id>/<env>`: prefix of every link inside the project. */
  base: string;
  can: Abilities;
}

export const ProjectContext = createContext<ProjectScope | null>(null);

export function useProject(): ProjectScope {
  const scope = useContext(ProjectContext);
  if (!scope) throw new Error('useProject must be used inside a project route.');
  return scope;
}

const LAST_PROJECT_KEY = 'pigeon.lastProject';

export function rememberProject(id: string): void {
  try {
    localStorage.setItem(LAST_PROJECT_KEY, id);
  } catch {
    // Private mode or storage disabled: the dashboard just opens the first project.
  }
}

export function lastProject(): string | null {
  try {
    return localStorage.getItem(LAST_PROJECT_KEY);
  } catch {
    return null;
  }
}
