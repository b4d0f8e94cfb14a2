"""What every registry of the package shares (network families, tasks, metrics): entries by
name, added once by the module that declares them, removable for tests, and an error that
lists the choices when a name is not there. Torch-free, like names.py: the bottom layer."""


class Registry(dict):
    """name -> entry (anything with a `name`), in the order the entries were added."""

    def __init__(self, what: str, setting: str):
        super().__init__()
        self.what = what  # "a network family"
        self.setting = setting  # how a user names one: "arch"

    def add(self, entry):
        """Add an entry (its module calls this once, at import); its name must be new."""
        if entry.name in self and self[entry.name] is not entry:
            raise ValueError(f"{self.what} named {entry.name!r} is registered already")
        self[entry.name] = entry
        return entry

    def remove(self, name: str) -> None:
        """Take an entry out again (tests register temporary ones)."""
        self.pop(name, None)

    def get_entry(self, name: str):
        if name not in self:
            raise ValueError(f"{self.setting}={name!r} is not {self.what}: choose one of {', '.join(self)}")
        return self[name]
