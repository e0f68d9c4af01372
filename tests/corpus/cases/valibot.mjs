// valibot: pipes of validations and transforms, safeParse's issues.
import * as v from 'valibot';

const Login = v.object({
  email: v.pipe(v.string(), v.trim(), v.email()),
  password: v.pipe(v.string(), v.minLength(8)),
  remember: v.optional(v.boolean(), false),
});

const good = v.safeParse(Login, { email: '  ada@example.com ', password: 'correct horse' });
const bad = v.safeParse(Login, { email: 'ada', password: 'short' });

export default {
  good: good.output,
  issues: bad.issues.map((issue) => ({ path: v.getDotPath(issue), message: issue.message })),
  flat: v.flatten(bad.issues),
};
