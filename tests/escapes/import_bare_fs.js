const fs = await import('fs');
export default fs.readFileSync('/etc/passwd', 'utf8');
