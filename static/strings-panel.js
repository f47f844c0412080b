// Messages of the browser app owned by the panel part; see i18n.js for the rules
// (keys start with "panel.", English is the reference, every language complete).

export default {
  en: {
    'panel.unlock.password': 'Password',
    'panel.unlock.passwordFor': 'Password for {title}',
    'panel.unlock.show': 'Show',
    'panel.unlock.hide': 'Hide',
    'panel.unlock.submit': 'Unlock',
    'panel.unlock.empty': 'Enter the password.',
    'panel.form.cancel': 'Cancel',
    'panel.discard.question': 'Discard your changes?',
    'panel.discard.keep': 'Keep editing',
    'panel.discard.confirm': 'Discard changes',
  },
  de: {
    'panel.unlock.password': 'Passwort',
    'panel.unlock.passwordFor': 'Passwort für {title}',
    'panel.unlock.show': 'Anzeigen',
    'panel.unlock.hide': 'Verbergen',
    'panel.unlock.submit': 'Entsperren',
    'panel.unlock.empty': 'Geben Sie das Passwort ein.',
    'panel.form.cancel': 'Abbrechen',
    'panel.discard.question': 'Ihre Änderungen verwerfen?',
    'panel.discard.keep': 'Weiter bearbeiten',
    'panel.discard.confirm': 'Änderungen verwerfen',
  },
};
