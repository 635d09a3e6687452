"""Label filters of List and Prune, as Docker's `label=` filter.

Map entries: {"key": ""} needs the label, {"key": "value"} needs that value; a key written
"key=value" with an empty value means the same (the CLI's form). A key starting with "!" negates
the entry (Docker's `label!=` of prune).
"""


class LabelFilter:
    def __init__(self, label_filters=None):
        self.want, self.avoid = [], []
        for key, value in (label_filters or {}).items():
            negate = key.startswith("!")
            if negate:
                key = key[1:]
            if value == "" and "=" in key:
                key, value = key.split("=", 1)
            (self.avoid if negate else self.want).append((key, value or None))

    @staticmethod
    def _has(labels, key, value):
        return key in labels and (value is None or labels[key] == value)

    def __call__(self, labels):
        return (all(self._has(labels, k, v) for k, v in self.want)
                and not any(self._has(labels, k, v) for k, v in self.avoid))
