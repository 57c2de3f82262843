// Tables: the scrolling wrapper with its header row, the cell of a row's action button, and the
// paged variant ("Load more" appends a page; each page runs its own query).
import { Fragment, type MouseEvent, type ReactNode, useState } from 'react';
import type { CombinedError } from 'urql';
import { describeError } from '../lib/errors.ts';
import { ErrorState, Loading } from './states.tsx';

export interface Column {
  label: string;
  /** Hidden on narrow screens. */
  optional?: boolean;
  /** For screen readers only (a column of buttons). */
  hidden?: boolean;
}

/** `false` leaves a column out (a page that shows less of each row). */
export type Columns = readonly (Column | false)[];

function shown(columns: Columns): Column[] {
  return columns.filter((column): column is Column => column !== false);
}

export function Table({ testId, columns, children }: { testId: string; columns: Columns; children: ReactNode }) {
  return (
    <div className="table-wrap">
      <table className="table" data-testid={testId}>
        <thead>
          <tr>
            {shown(columns).map((column) => (
              <th key={column.label} scope="col" className={column.optional ? 'col-optional' : undefined}>
                {column.hidden ? <span className="visually-hidden">{column.label}</span> : column.label}
              </th>
            ))}
          </tr>
        </thead>
        {children}
      </table>
    </div>
  );
}

/** The last cell of a row: a small destructive button, or empty when `onClick` is absent. */
export function RowAction({
  label,
  testId,
  onClick,
  children,
}: {
  label: string;
  testId: string;
  onClick: ((event: MouseEvent<HTMLButtonElement>) => void) | undefined;
  children: ReactNode;
}) {
  return (
    <td className="cell-actions">
      {onClick ? (
        <button type="button" className="button button-small button-danger-ghost" onClick={onClick} aria-label={label} data-testid={testId}>
          {children}
        </button>
      ) : null}
    </td>
  );
}

/** Where one page sits in a paged table. */
export interface PageSlot {
  after: string | null;
  first: boolean;
  last: boolean;
  /** How many columns a state row spans. */
  columns: number;
  onMore(cursor: string): void;
}

/** A table of pages: `children` renders the page after each cursor (a component running its query). */
export function PagedTable({ testId, columns, children }: { testId: string; columns: Columns; children(page: PageSlot): ReactNode }) {
  const [cursors, setCursors] = useState<(string | null)[]>([null]);
  const span = shown(columns).length;
  return (
    <Table testId={testId} columns={columns}>
      {cursors.map((after, i) => (
        <Fragment key={after ?? 'first'}>
          {children({
            after,
            first: i === 0,
            last: i === cursors.length - 1,
            columns: span,
            onMore: (cursor) => setCursors((list) => [...list, cursor]),
          })}
        </Fragment>
      ))}
    </Table>
  );
}

interface Connection<E> {
  edges: readonly E[];
  pageInfo: { hasNextPage: boolean; endCursor: string | null };
}

interface PageRowsProps<E> {
  page: PageSlot;
  /** The page's connection once loaded. */
  connection: Connection<E> | undefined;
  error: CombinedError | undefined;
  retry(): void;
  /** Shown while the first page loads (later pages say "Loading more…"). */
  loadingLabel: string;
  /** Shown when the first page has no rows. */
  empty: ReactNode;
  children(edges: readonly E[]): ReactNode;
}

/** One page's rows, or its loading, error or empty state; the last page ends in "Load more". */
export function PageRows<E>({ page, connection, error, retry, loadingLabel, empty, children }: PageRowsProps<E>) {
  const stateRow = (content: ReactNode) => (
    <tbody>
      <tr className="cell-state">
        <td colSpan={page.columns}>{content}</td>
      </tr>
    </tbody>
  );
  if (error && !connection) return stateRow(<ErrorState message={describeError(error)} onRetry={retry} />);
  if (!connection) return stateRow(<Loading label={page.first ? loadingLabel : 'Loading more…'} />);
  const { edges, pageInfo } = connection;
  if (page.first && edges.length === 0) return stateRow(empty);
  const next = page.last && pageInfo.hasNextPage ? pageInfo.endCursor : null;
  return (
    <tbody>
      {children(edges)}
      {next ? (
        <tr className="cell-state">
          <td colSpan={page.columns}>
            <div className="load-more">
              <button type="button" className="button" onClick={() => page.onMore(next)} data-testid="load-more">
                Load more
              </button>
            </div>
          </td>
        </tr>
      ) : null}
    </tbody>
  );
}
