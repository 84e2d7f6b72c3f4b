/* A C header. */
#ifndef PLAIN_H
#define PLAIN_H
#ifdef __cplusplus
extern "C" {
#endif
/* A list node. */
typedef struct node { struct node *next; } node_t;
int list_len(const node_t *head);
static inline int is_empty(const node_t *head) { return head == 0; }
#ifdef __cplusplus
}
#endif
#endif
