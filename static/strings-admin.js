// Messages of the browser app owned by the admin part; see i18n.js for the rules
// (keys start with "admin.", English is the reference, every language complete).

export default {
  en: {},
  de: {},
};
