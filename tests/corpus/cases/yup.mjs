// yup: async validation with casting, collecting every error.
import * as yup from 'yup';

const schema = yup.object({
  name: yup.string().required(),
  age: yup.number().required().positive().integer(),
  email: yup.string().email(),
  website: yup.string().url().nullable(),
});

const cast = await schema.validate({ name: 'Ada', age: '36', email: 'ada@example.com', website: null });
let errors;
try {
  await schema.validate({ age: -1.5, email: 'x' }, { abortEarly: false });
} catch (error) {
  errors = { name: error.name, errors: error.errors, isValidationError: error instanceof yup.ValidationError };
}

export default { cast, errors, valid: schema.isValidSync({ name: 'B', age: 2 }) };
