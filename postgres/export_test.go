package postgres

// Stats returns how many transactions of Claim and Finish calls the store
// ran, and how many calls they carried out.
func (s *Store) Stats() (transactions, operations int64) {
	return s.stats.transactions.Load(), s.stats.operations.Load()
}
