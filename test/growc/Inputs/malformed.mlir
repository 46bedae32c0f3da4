module {
  grow.model @broken <vocab = 8>
