DROP TABLE users_trash;
