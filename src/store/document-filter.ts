import type { DocumentQuery, RequeueQuery } from "./store.js";

/**
 * Which documents of a batch a listing or a retry selects is decided here, once for both stores;
 * each store says how its SQL writes a parameter, a list of states and the match of an error code.
 */
export interface FilterDialect {
  /** The placeholder of the nth parameter (from 1). */
  param(n: number): string;
  /** The document's state is one of the list bound at `placeholder`. */
  stateIn(placeholder: string): string;
  /** How a list of states is bound. */
  states(list: string[]): unknown;
  /** A failed document's last error, or a degraded document's reason, has the code bound at `placeholder`. */
  reasonMatch(placeholder: string): string;
}

/** The conditions of a query over the documents table, and its parameters in order. */
export class DocumentFilter {
  private readonly conditions: string[] = [];
  readonly params: unknown[] = [];

  constructor(private readonly dialect: FilterDialect) {}

  /** Adds a parameter; its placeholder, to be written anywhere in the statement. */
  bind(value: unknown): string {
    this.params.push(value);
    return this.dialect.param(this.params.length);
  }

  and(condition: string): void {
    this.conditions.push(condition);
  }

  get where(): string {
    return this.conditions.join(" AND ");
  }
}

/** The documents a retry query selects: failed (and degraded) ones, by reason and by document. */
export function requeueFilter(batchId: string, query: RequeueQuery, dialect: FilterDialect): DocumentFilter {
  const filter = new DocumentFilter(dialect);
  const states = [...(query.failed ? ["failed"] : []), ...(query.degraded ? ["degraded"] : [])];
  filter.and(`batch_id = ${filter.bind(batchId)}`);
  filter.and(dialect.stateIn(filter.bind(dialect.states(states))));
  if (query.reason) filter.and(dialect.reasonMatch(filter.bind(query.reason)));
  if (query.docId !== undefined) filter.and(`doc_id = ${filter.bind(query.docId)}`);
  if (query.source !== undefined) filter.and(`source = ${filter.bind(query.source)}`);
  return filter;
}

/** Of a retry query's documents, those whose file could not be read when planned. */
export function reloadFilter(batchId: string, query: RequeueQuery, dialect: FilterDialect): DocumentFilter {
  const filter = requeueFilter(batchId, query, dialect);
  filter.and("load_error IS NOT NULL AND path IS NOT NULL");
  return filter;
}

/** The documents of a listing page (`Store.listDocuments`): after `afterRow`, by state and reason. */
export function listFilter(batchId: string, query: DocumentQuery, dialect: FilterDialect): DocumentFilter {
  const filter = new DocumentFilter(dialect);
  filter.and(`batch_id = ${filter.bind(batchId)}`);
  filter.and(`row > ${filter.bind(query.afterRow ?? 0)}`);
  if (query.states && query.states.length > 0) {
    filter.and(dialect.stateIn(filter.bind(dialect.states(query.states))));
  }
  if (query.reason) filter.and(dialect.reasonMatch(filter.bind(query.reason)));
  return filter;
}
