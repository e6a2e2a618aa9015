"""MySQL/MariaDB backend: hand-written SQL over PyMySQL behind a DBUtils pool."""
