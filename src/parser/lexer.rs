//! Tokens (logos) and a token source with lookahead. (Being written.)
