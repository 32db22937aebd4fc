-- A mirror keeps its upstream's newest witness-cosigned checkpoint of the entries it holds
-- (`GET /log/checkpoint/cosigned` upstream, verified with the pinned log key and against the
-- mirror's own tree), so clients verifying against the mirror find witness cosignatures too.
ALTER TABLE mirror_state ADD COLUMN cosigned_checkpoint TEXT;
