// Imports every domain file (each registers its types and fields on the builder) and builds the schema.
import { builder } from '../builder.ts';
import './errors.ts';
import './account.ts';
import './project.ts';
import './member.ts';
import './api-key.ts';
import './template.ts';
import './recipient.ts';
import './notification.ts';
import './send.ts';
import './client-token.ts';
import './inbox.ts';
import './webhook.ts';

export const schema = builder.toSchema({ sortSchema: true });
