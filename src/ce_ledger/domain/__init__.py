"""The professional's record: values, events and the aggregate. No I/O here."""
