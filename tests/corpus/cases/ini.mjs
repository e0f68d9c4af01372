// ini: parse sections and arrays, stringify.
import ini from 'ini';

const text = `; comment
scope = global
[database]
user = dbuser
password = "dbpassword"
port = 5432
[paths.default]
datadir = /var/lib/data
array[] = first
array[] = second
`;

const config = ini.parse(text);
config.database.user = 'admin';

export default { config, text: ini.stringify(config, { section: 'root' }) };
