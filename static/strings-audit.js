// Messages of the browser app owned by the admin page's audit log; see i18n.js
// for the rules (keys start with "audit.", English is the reference, every
// language complete). Kept apart from strings-admin.js so the audit view and the
// rest of the admin page change independently.

export default {
  en: {},
  de: {},
};
