"""Signal feeds: Atom, RSS and JSON Feed, with conditional GET."""
