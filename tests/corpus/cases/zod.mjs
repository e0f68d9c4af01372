// zod: an object schema with refinements and transforms; a valid and an
// invalid input, and the issues reported for the latter.
import { z } from 'zod';

const User = z.object({
  name: z.string().min(2),
  email: z.string().email(),
  age: z.number().int().positive().optional(),
  tags: z.array(z.string()).default([]),
  role: z.enum(['admin', 'user']),
  joined: z.string().transform((s) => s.split('-').map(Number)),
});

const good = User.safeParse({ name: 'Ada', email: 'ada@example.com', role: 'admin', joined: '2024-02-29' });
const bad = User.safeParse({ name: 'A', email: 'nope', age: -3, role: 'root', joined: '2024' });

export default {
  good: good.success && good.data,
  issues: bad.success ? null : bad.error.issues.map((issue) => ({ path: issue.path, code: issue.code, message: issue.message })),
  flattened: bad.success ? null : z.flattenError(bad.error).fieldErrors,
  jsonSchema: z.toJSONSchema(User.pick({ name: true, role: true })),
};
