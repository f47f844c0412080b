package postgres

// OpenWithMigrations is Open with the migrations directory of fsys instead
// of the embedded one, for tests of a failing migration.
var OpenWithMigrations = open

// Migrations are the embedded migrations.
var Migrations = migrations
