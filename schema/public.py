"""Root fields that are deliberately public: no permission directive on purpose."""

PUBLIC_FIELDS = frozenset({"Query.me", "Mutation.register", "Mutation.login", "Mutation.refreshToken"})
