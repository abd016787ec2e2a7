"""The fitness cache keyed by program hash (being built, issue 3).

Contract (what the search relies on):
  cache = FitnessCache(path=None)       # with a path: persisted there, reloaded if it exists
  key = cache.key(program) -> str       # the combined hash the cache is keyed by
  cache.get(key) -> float | None        # mean fitness so far; counts a hit or a miss
  cache.needs_rescore(key) -> bool      # whether to score a cached program again (noise)
  cache.put(key, fitness) -> None       # record a score (a re-score is averaged in)
  cache.hits, cache.misses, cache.hit_rate, len(cache)
  cache.save(path); FitnessCache.load(path)
"""


class FitnessCache:

  def __init__(self, path=None):
    raise NotImplementedError("issue 3")
