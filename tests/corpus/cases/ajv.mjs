// ajv: compiling a JSON Schema (ajv generates code with new Function) and
// validating with all errors.
import Ajv from 'ajv';

const ajv = new Ajv({ allErrors: true });
const validate = ajv.compile({
  type: 'object',
  properties: {
    id: { type: 'integer', minimum: 1 },
    name: { type: 'string', minLength: 1 },
    tags: { type: 'array', items: { type: 'string' }, uniqueItems: true },
  },
  required: ['id', 'name'],
  additionalProperties: false,
});

const good = validate({ id: 1, name: 'x', tags: ['a', 'b'] });
const bad = validate({ id: 0, tags: ['a', 'a'], extra: true });

export default {
  good,
  bad,
  errors: validate.errors.map((error) => ({ path: error.instancePath, keyword: error.keyword, message: error.message })),
  text: ajv.errorsText(validate.errors),
};
