package fence

import (
	"errors"
	"strconv"

	clientv3 "go.etcd.io/etcd/client/v3"
)

// Token is a fencing token: the etcd create revision of a leader's election key. Tokens of
// later terms are strictly greater, because etcd revisions only grow.
type Token int64

// String formats the token as its decimal revision, as it travels in HeaderToken.
func (t Token) String() string { return strconv.FormatInt(int64(t), 10) }

// ParseToken parses a token from its decimal form; tokens are positive.
func ParseToken(s string) (Token, error) {
	n, err := strconv.ParseInt(s, 10, 64)
	if err != nil || n <= 0 {
		return 0, errors.New("fence: token must be a positive decimal integer")
	}
	return Token(n), nil
}

// ErrFenced reports that a write was refused because the caller no longer holds the leadership
// term its token names. A leader that gets it must stop its term.
var ErrFenced = errors.New("fence: not leader (fencing token is stale)")

// Guard is the comparison that fences a leader write: the leader key still exists and was
// created at token's revision. Put it in the If of the transaction that does the write.
func Guard(leaderKey string, token Token) clientv3.Cmp {
	return clientv3.Compare(clientv3.CreateRevision(leaderKey), "=", int64(token))
}

// Held reports whether a leader key, as read by an OpGet on leaderKey in the same transaction
// (for example in its Else branch), still belongs to the term of token.
func Held(resp *clientv3.GetResponse, token Token) bool {
	return resp != nil && len(resp.Kvs) == 1 && resp.Kvs[0].CreateRevision == int64(token)
}
